# Doxygen input filter (sed -E): dagrad's headers use plain // comments. A comment line
# before a declaration becomes a /// doc comment, a comment after a declaration on the
# same line becomes ///<, and `#pragma once` becomes \file, so the opening comment right
# above it documents the file. Line numbers stay as they are. Section rulers
# ("// ---- sources ----") stay plain comments.
/^[[:space:]]*\/\/ ----/b
s@^#pragma once$@/// \\file@
s@^([[:space:]]*)//( |$)@\1///\2@
s@([;,{])([[:space:]]*)// @\1\2///< @
# In comment text, <T> and #include are text, not HTML tags or links.
/^[[:space:]]*\/\/\/ /s@<([A-Za-z/])@\\<\1@g
/^[[:space:]]*\/\/\/ /s@([[:space:]])#([a-z])@\1\\#\2@g
