# The install tests, one step per ctest test (tests/install/CMakeLists.txt):
#
#   cmake -DSTEP=install|headers|example|first_model -DBUILD_DIR=... -DSOURCE_DIR=...
#         -DPREFIX=... -DWORK_DIR=... -DCXX=... [-DEXAMPLE=name] -P install_test.cmake
#
# install      cmake --install BUILD_DIR into a fresh PREFIX; checks what is and is not there
# headers      no `using namespace` and no stray macro in the installed headers; a consumer
#              project compiles each alone and the umbrella header in a program, and runs it
# example      examples/EXAMPLE configured and built from scratch against PREFIX, then run
# first_model  docs/first_model.md shows examples/first_model verbatim; it builds (and
#              trains a few steps when the MNIST files are in SOURCE_DIR/data/mnist)
cmake_minimum_required(VERSION 3.25)

foreach(var STEP BUILD_DIR SOURCE_DIR PREFIX WORK_DIR CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command, echoing it; any failure fails the test.
function(run)
  cmake_parse_arguments(R "" "WORKING_DIRECTORY;OUTPUT_VARIABLE" "" ${ARGN})
  string(REPLACE ";" " " shown "${R_UNPARSED_ARGUMENTS}")
  message(STATUS "$ ${shown}")
  if(NOT R_WORKING_DIRECTORY)
    set(R_WORKING_DIRECTORY ${WORK_DIR})
  endif()
  if(R_OUTPUT_VARIABLE)
    execute_process(COMMAND ${R_UNPARSED_ARGUMENTS} WORKING_DIRECTORY ${R_WORKING_DIRECTORY}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message("${out}")
    set(${R_OUTPUT_VARIABLE} "${out}" PARENT_SCOPE)
  else()
    execute_process(COMMAND ${R_UNPARSED_ARGUMENTS} WORKING_DIRECTORY ${R_WORKING_DIRECTORY} RESULT_VARIABLE rc)
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${shown}")
  endif()
endfunction()

# Configures and builds the project in `src` from scratch in `bin` against PREFIX only.
function(build_project src bin)
  file(REMOVE_RECURSE ${bin})
  run(${CMAKE_COMMAND} -S ${src} -B ${bin} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_PREFIX_PATH=${PREFIX})
  run(${CMAKE_COMMAND} --build ${bin} -j2)
endfunction()

file(MAKE_DIRECTORY ${WORK_DIR})
set(INCLUDE_DIR ${PREFIX}/include/dagrad)

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${PREFIX})
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX})
  foreach(f bin/dagrad include/dagrad/dagrad.h include/dagrad/version.h include/dagrad/runtime/tensor.h
            include/dagrad/frontend/trainer.h lib/cmake/dagrad/dagradConfig.cmake
            lib/cmake/dagrad/dagradConfigVersion.cmake lib/cmake/dagrad/dagradTargets.cmake)
    if(NOT EXISTS ${PREFIX}/${f})
      message(FATAL_ERROR "${PREFIX}/${f} was not installed")
    endif()
  endforeach()
  # Internal headers stay private.
  foreach(f ops/cpu ops/defs ops/elementwise_math.h scheduler/passes.h scheduler/fused_program.h runtime/cpu
            runtime/cuda frontend/progress.h frontend/data/atomic_file.h)
    if(EXISTS ${INCLUDE_DIR}/${f})
      message(FATAL_ERROR "internal header ${f} was installed: it is not part of the public API")
    endif()
  endforeach()
  file(GLOB_RECURSE installed RELATIVE ${PREFIX} ${PREFIX}/*)
  list(LENGTH installed n)
  message(STATUS "installed ${n} files into ${PREFIX}")

elseif(STEP STREQUAL "headers")
  file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/*.h)
  if(NOT headers)
    message(FATAL_ERROR "no headers under ${INCLUDE_DIR}: run the install step first")
  endif()
  # Macros a public header may define; any other must be #undef'd in the same header.
  set(public_macros DAGRAD_VERSION DAGRAD_VERSION_MAJOR DAGRAD_VERSION_MINOR DAGRAD_VERSION_PATCH
                    DAGRAD_VERSION_STRING DAGRAD_ASSERT DAGRAD_HD)
  list(JOIN public_macros ", " allowed)
  set(problems)
  foreach(h IN LISTS headers)
    file(STRINGS ${INCLUDE_DIR}/${h} lines)
    file(READ ${INCLUDE_DIR}/${h} text)
    foreach(line IN LISTS lines)
      if(line MATCHES "^[ \t]*//")
        continue()
      endif()
      if(line MATCHES "using[ \t]+namespace")
        list(APPEND problems "${h}: `using namespace` in a public header: ${line}")
      endif()
      if(line MATCHES "^[ \t]*#[ \t]*define[ \t]+([A-Za-z_0-9]+)")
        set(name ${CMAKE_MATCH_1})
        if(NOT name MATCHES "^DAGRAD_")
          list(APPEND problems "${h}: macro ${name} lacks the DAGRAD_ prefix")
        elseif(NOT name IN_LIST public_macros AND NOT text MATCHES "#[ \t]*undef[ \t]+${name}[^A-Za-z_0-9]")
          list(APPEND problems "${h}: macro ${name} leaks (neither #undef'd nor one of ${allowed})")
        endif()
      endif()
    endforeach()
  endforeach()
  if(problems)
    list(JOIN problems "\n  " text)
    message(FATAL_ERROR "public header problems:\n  ${text}")
  endif()

  list(LENGTH headers n)
  message(STATUS "${n} installed headers: no `using namespace`, no leaked macros")

  # The consumer compiles the umbrella header in a program and each header on its own.
  build_project(${SOURCE_DIR}/tests/install/consumer ${WORK_DIR}/consumer)
  run(${WORK_DIR}/consumer/header_check)

elseif(STEP STREQUAL "example")
  set(bin ${WORK_DIR}/${EXAMPLE})
  build_project(${SOURCE_DIR}/examples/${EXAMPLE} ${bin})
  if(EXAMPLE STREQUAL "train_cnn")
    # Trains the example's residual CNN (and the zoo's lenet5 on the same data), profiles,
    # checkpoints; the installed command then evaluates the lenet5 checkpoint.
    run(${bin}/train_cnn ${bin}/out OUTPUT_VARIABLE train_out)
    if(NOT train_out MATCHES "lenet5 checkpoint: (test loss [0-9.]+, accuracy [0-9.]+% on 200 images)")
      message(FATAL_ERROR "train_cnn did not report the lenet5 checkpoint's test metrics")
    endif()
    set(want "${CMAKE_MATCH_1}")
    foreach(f tiny-resnet.safetensors lenet5.safetensors profile/trace.json profile/report.html)
      if(NOT EXISTS ${bin}/out/${f})
        message(FATAL_ERROR "train_cnn did not write out/${f}")
      endif()
    endforeach()
    run(${PREFIX}/bin/dagrad eval --model lenet5 --data ${bin}/out/data
        --load ${bin}/out/lenet5.safetensors --batch 100
        OUTPUT_VARIABLE eval_out)
    # The same parameters on the same images: the same loss and accuracy as in the program.
    string(FIND "${eval_out}" "${want}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "dagrad eval of lenet5.safetensors does not report what train_cnn measured (${want})")
    endif()
  elseif(EXAMPLE STREQUAL "custom_op")
    run(${bin}/custom_op)
  else()
    message(FATAL_ERROR "unknown example '${EXAMPLE}'")
  endif()

elseif(STEP STREQUAL "first_model")
  # The README's tutorial is these files word for word.
  file(READ ${SOURCE_DIR}/docs/first_model.md doc)
  foreach(pair "CMakeLists.txt:cmake" "main.cpp:cpp")
    string(REPLACE ":" ";" pair ${pair})
    list(GET pair 0 file)
    list(GET pair 1 lang)
    file(READ ${SOURCE_DIR}/examples/first_model/${file} content)
    string(FIND "${doc}" "```${lang}\n${content}```" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "docs/first_model.md does not show examples/first_model/${file} verbatim "
                          "(in a ```${lang} block): update one from the other")
    endif()
  endforeach()
  set(bin ${WORK_DIR}/first_model)
  build_project(${SOURCE_DIR}/examples/first_model ${bin})
  if(EXISTS ${SOURCE_DIR}/data/mnist)
    run(${bin}/first_model ${SOURCE_DIR}/data/mnist 20 WORKING_DIRECTORY ${bin})
    if(NOT EXISTS ${bin}/my-cnn.safetensors)
      message(FATAL_ERROR "first_model did not write my-cnn.safetensors")
    endif()
  else()
    message(STATUS "no MNIST files in ${SOURCE_DIR}/data/mnist (scripts/fetch_data.sh): built, not run")
  endif()

else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
