# `cmake --install`: what another project needs to use tide (TIDE_INSTALL, on when tide is
# the top-level project). Included at the end of CMakeLists.txt.
#
#   include/tide/**                          the public headers (src/heap's headers stay private)
#   lib/libtide.a                            tide::tide, the static library
#   lib/libtide.so.<version>                 tide::tide_shared, the shared one (TIDE_BUILD_SHARED)
#   lib/cmake/tide/                          find_package(tide CONFIG): tideConfig.cmake,
#                                            tideConfigVersion.cmake, tide-static-targets.cmake,
#                                            tide-shared-targets.cmake, FindxxHash.cmake
#   lib/pkgconfig/tide.pc                    pkg-config --cflags --libs [--static] tide
#   share/tide/gdb/tide_printers.py          GDB pretty-printers for tide::map and tide::set,
#   share/gdb/auto-load/<prefix>/lib/        and a copy where gdb loads them for libtide.so
#     libtide.so.<version>-gdb.py
#
# Each library has its own export set, so a user of the shared library alone does not need
# the static library's link-only dependency (fmt) installed.
if(NOT TIDE_INSTALL)
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(tide_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tide)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")

install(TARGETS tide EXPORT tide-static-targets)
install(EXPORT tide-static-targets NAMESPACE tide:: DESTINATION ${tide_cmake_dir})
if(TARGET tide_shared)
  install(TARGETS tide_shared EXPORT tide-shared-targets)
  install(EXPORT tide-shared-targets NAMESPACE tide:: DESTINATION ${tide_cmake_dir})
endif()
# libtide_malloc.so: not linked against, only preloaded (LD_PRELOAD=<libdir>/libtide_malloc.so).
install(TARGETS tide_malloc LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tideConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tideConfig.cmake INSTALL_DESTINATION ${tide_cmake_dir})
# Before 1.0 a minor version may break the API: only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tideConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/tideConfig.cmake
  ${PROJECT_BINARY_DIR}/tideConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/FindxxHash.cmake
  DESTINATION ${tide_cmake_dir})

# tide.pc finds its prefix from its own directory (${pcfiledir}), so the installed tree can
# be moved, and `cmake --install --prefix <dir>` gives a working file.
file(RELATIVE_PATH tide_pc_prefix ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" tide_pc_prefix "${tide_pc_prefix}")
get_target_property(tide_pc_definitions tide INTERFACE_COMPILE_DEFINITIONS)
if(tide_pc_definitions)
  list(TRANSFORM tide_pc_definitions PREPEND "-D")
  list(JOIN tide_pc_definitions " " tide_pc_definitions)
else()
  set(tide_pc_definitions "")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/tide.pc.in ${PROJECT_BINARY_DIR}/tide.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tide.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# GDB pretty-printers (tools/gdb/tide_printers.py). gdb auto-loads <objfile>-gdb.py from
# <scripts-directory>/<the objfile's absolute path>, so the copy's path holds the final prefix:
# it is computed when installing (cmake --install --prefix may differ from the configured one).
install(FILES ${PROJECT_SOURCE_DIR}/tools/gdb/tide_printers.py
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tide/gdb)
if(TARGET tide_shared)
  install(CODE "
    file(INSTALL ${PROJECT_SOURCE_DIR}/tools/gdb/tide_printers.py
         DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/gdb/auto-load\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\"
         RENAME \"$<TARGET_FILE_NAME:tide_shared>-gdb.py\")")
endif()
