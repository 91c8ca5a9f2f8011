# Helpers that give every sluice target the same warnings and layout.

add_library(sluice_warnings INTERFACE)
target_compile_options(sluice_warnings INTERFACE -Wall -Wextra -Werror -Wpedantic -Wshadow
                                                 -Wnon-virtual-dtor -Wcast-align)
# GCC 12 at -O2 and above reports overlapping copies inside std::string's operator+ and
# substr that cannot happen (GCC bugs 105329 and 105651, fixed in GCC 13).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(sluice_warnings INTERFACE -Wno-restrict)
endif()

# sluice_module(<name> SOURCES ... DEPENDS ...): the library sluice::<name> from
# <name>/include (public headers) and <name>/src (sources and private headers).
function(sluice_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  set(target sluice_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(sluice::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME sluice_${name}
                                             POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS} PRIVATE ${ARG_PRIVATE_DEPENDS}
                                  $<BUILD_INTERFACE:sluice_warnings>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set_property(GLOBAL APPEND PROPERTY SLUICE_MODULES ${target})
endfunction()

# sluice_executable(<name> SOURCES ... DEPENDS ...): a program in <binary dir>/bin.
function(sluice_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS} sluice_warnings)
endfunction()
