# libtide.so: the target tide_shared (tide::tide_shared), built when TIDE_BUILD_SHARED is ON.
# It compiles the static library's sources again, as position-independent code, and takes the
# static target's include directories, definitions, options and dependencies from its
# properties, so the two cannot drift apart. Included at the end of CMakeLists.txt, after
# every property of `tide` is set.
#
# Both libraries are named tide (libtide.a, libtide.so), as a distribution packages a library:
# a linker given -ltide picks the shared one, pkg-config --static and tide::tide the static.
# Before 1.0 every minor version may change the ABI, so the soname carries major.minor.
if(NOT TIDE_BUILD_SHARED)
  return()
endif()

get_target_property(tide_shared_sources tide SOURCES)
add_library(tide_shared SHARED ${tide_shared_sources})
add_library(tide::tide_shared ALIAS tide_shared)
foreach(property IN ITEMS
    INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES
    COMPILE_DEFINITIONS INTERFACE_COMPILE_DEFINITIONS
    COMPILE_OPTIONS INTERFACE_COMPILE_OPTIONS
    COMPILE_FEATURES INTERFACE_COMPILE_FEATURES
    LINK_OPTIONS INTERFACE_LINK_OPTIONS
    LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
  get_target_property(value tide ${property})
  if(value)
    # A static library lists its PRIVATE dependencies as $<LINK_ONLY:...> in its interface;
    # the shared library links them itself, so its users need not.
    list(FILTER value EXCLUDE REGEX "^\\$<LINK_ONLY:")
    set_property(TARGET tide_shared PROPERTY ${property} ${value})
  endif()
endforeach()
set_target_properties(tide_shared PROPERTIES
  OUTPUT_NAME tide
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
