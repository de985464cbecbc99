# Doxygen input filter: dagrad's headers use plain // comments. A comment line before a
# declaration becomes a /// doc comment, a comment after a declaration on the same line
# becomes ///<, and the file's opening comment documents the file (\file). Section
# rulers ("// ---- sources ----") stay plain comments.
/^[[:space:]]*\/\/ ----/b
1s|^// |/// \\file\n/// |
s|^\([[:space:]]*\)//\( \|$\)|\1///\2|
s|\([;,{]\)\([[:space:]]*\)// |\1\2///< |
