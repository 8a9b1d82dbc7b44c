# The API reference: target `docs` runs Doxygen (Debian's doxygen) on include/tide/ with
# docs/Doxyfile.in, writing build/<preset>/docs/api/html/index.html, then fails on any warning
# docs/check_doxygen_log.py does not excuse (malformed comments anywhere; undocumented public
# members of the Doxygen-commented headers). Not part of `all`: build it with
#   cmake --build build/release --target docs
# The test docs_api_reference (release build only, like the consumer tests) builds it and
# checks the pages.
find_program(TIDE_DOXYGEN doxygen)
find_package(Python3 QUIET COMPONENTS Interpreter)
if(NOT TIDE_DOXYGEN OR NOT Python3_Interpreter_FOUND)
  message(STATUS "tide: doxygen or python3 not found: no docs target (API reference)")
  return()
endif()

set(TIDE_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/docs/api)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${TIDE_DOCS_OUTPUT}/Doxyfile @ONLY)
file(GLOB_RECURSE tide_docs_inputs CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/include/tide/*.hpp ${PROJECT_SOURCE_DIR}/include/tide/*.h)
list(APPEND tide_docs_inputs
  ${PROJECT_SOURCE_DIR}/docs/api_mainpage.md ${PROJECT_SOURCE_DIR}/docs/api_namespaces.dox
  ${PROJECT_SOURCE_DIR}/docs/check_doxygen_log.py ${TIDE_DOCS_OUTPUT}/Doxyfile)
add_custom_command(
  OUTPUT ${TIDE_DOCS_OUTPUT}/html/index.html
  # A fresh html/ each time, so pages of removed symbols do not linger.
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${TIDE_DOCS_OUTPUT}/html
  COMMAND ${TIDE_DOXYGEN} ${TIDE_DOCS_OUTPUT}/Doxyfile
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/check_doxygen_log.py
          ${TIDE_DOCS_OUTPUT}/doxygen-warnings.log
  DEPENDS ${tide_docs_inputs}
  WORKING_DIRECTORY ${TIDE_DOCS_OUTPUT}
  COMMENT "Doxygen: API reference in ${TIDE_DOCS_OUTPUT}/html"
  VERBATIM)
add_custom_target(docs DEPENDS ${TIDE_DOCS_OUTPUT}/html/index.html)

if(TIDE_BUILD_TESTS AND (NOT DEFINED BUILD_TESTING OR BUILD_TESTING)
   AND NOT TIDE_SANITIZE AND NOT TIDE_FUZZ AND NOT TIDE_INVARIANTS)
  add_test(NAME docs_api_reference
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/check_api_reference.py
            ${CMAKE_COMMAND} ${PROJECT_BINARY_DIR} ${TIDE_DOCS_OUTPUT}/html)
  set_tests_properties(docs_api_reference PROPERTIES LABELS "docs" TIMEOUT 300)
endif()
