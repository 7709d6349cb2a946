# One library per area of src/ (natpunch_core, natpunch_nat, ...), linked
# only along the arrows of the layer graph (README, "Layers";
# docs/design.md). Three checks keep the arrows true:
#  - natpunch_layer_check (part of every build, before the library): an
#    area's file that includes a header of an area its arrows do not reach
#    fails the build (cmake/check_layers.cmake);
#  - natpunch_layer_links (ctest layers.links): each area's objects link
#    as a shared object with -Wl,--no-undefined against only the areas they
#    reach and their declared third-party libraries, so a use without an
#    include (a forward declaration) fails to link too;
#  - a directory of src/ that is not declared here fails the configure.
# Every area compiles with the same flags (one include root, src/): the
# arrows are checked, not hidden, and objects stay shareable through ccache.
# The installed `natpunch` library is all areas' objects in one archive.

add_library(natpunch_area_flags INTERFACE)
target_include_directories(natpunch_area_flags INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)

# natpunch_area(AREA [USES area...] [LIBS target...]): natpunch_AREA, an
# OBJECT library of src/AREA/*.cpp that may include the headers of the
# USES areas (declared before it) and of what they reach, and links LIBS.
function(natpunch_area area)
  cmake_parse_arguments(PARSE_ARGV 1 AREA "" "" "USES;LIBS")
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${area}/*.cpp)
  add_library(natpunch_${area} OBJECT ${sources})
  set(reach ${area})
  foreach(used IN LISTS AREA_USES)
    if(NOT TARGET natpunch_${used})
      message(FATAL_ERROR "area ${area} uses ${used}, which is not declared before it (arrows point down)")
    endif()
    target_link_libraries(natpunch_${area} PUBLIC natpunch_${used})
    get_property(used_reach GLOBAL PROPERTY NATPUNCH_REACH_${used})
    list(APPEND reach ${used_reach})
  endforeach()
  list(REMOVE_DUPLICATES reach)
  target_link_libraries(natpunch_${area} PUBLIC natpunch_area_flags ${AREA_LIBS} PRIVATE natpunch_warnings)
  set_target_properties(natpunch_${area} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_property(GLOBAL PROPERTY NATPUNCH_REACH_${area} ${reach})
  set_property(GLOBAL PROPERTY NATPUNCH_LIBS_${area} ${AREA_LIBS})
  set_property(GLOBAL APPEND PROPERTY NATPUNCH_AREAS ${area})
endfunction()

# natpunch_layer_link(TARGET AREA): a shared object (not built by default)
# of AREA's objects and those of every area it reaches, linked with
# -Wl,--no-undefined against their declared libraries only: it links only
# if AREA needs nothing beyond its arrows. Sources added to TARGET count as
# AREA's (tests/layers: a probe that must not link).
function(natpunch_layer_link target area)
  get_property(reach GLOBAL PROPERTY NATPUNCH_REACH_${area})
  add_library(${target} SHARED EXCLUDE_FROM_ALL)
  foreach(reached IN LISTS reach)
    get_property(libs GLOBAL PROPERTY NATPUNCH_LIBS_${reached})
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:natpunch_${reached}>)
    target_link_libraries(${target} PRIVATE ${libs})
  endforeach()
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/layers LINKER_LANGUAGE CXX)
endfunction()

# After the declarations: the configure check, the include check, the
# link check, and `natpunch` itself.
function(natpunch_areas_done)
  get_property(areas GLOBAL PROPERTY NATPUNCH_AREAS)
  file(GLOB entries LIST_DIRECTORIES true RELATIVE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/*)
  foreach(entry IN LISTS entries)
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${entry} AND NOT entry IN_LIST areas)
      message(FATAL_ERROR "src/${entry} is not an area: declare it in CMakeLists.txt with natpunch_area(${entry} USES ...) "
                          "and draw its arrows in the README's layer graph")
    endif()
  endforeach()

  set(spec "")
  set(all_sources "")
  foreach(area IN LISTS areas)
    get_property(reach GLOBAL PROPERTY NATPUNCH_REACH_${area})
    string(REPLACE ";" " " reach_text "${reach}")
    string(APPEND spec "${area}: ${reach_text}\n")
    file(GLOB files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${area}/*.hpp ${PROJECT_SOURCE_DIR}/src/${area}/*.cpp)
    list(APPEND all_sources ${files})
  endforeach()
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/layers.txt CONTENT "${spec}")
  set(stamp ${PROJECT_BINARY_DIR}/layers.checked)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR}/src -DSPEC=${PROJECT_BINARY_DIR}/layers.txt -DSTAMP=${stamp}
            -P ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
    DEPENDS ${all_sources} ${PROJECT_BINARY_DIR}/layers.txt ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
    COMMENT "Checking includes against the layer arrows" VERBATIM)
  add_custom_target(natpunch_layer_check ALL DEPENDS ${stamp})
  foreach(area IN LISTS areas)
    add_dependencies(natpunch_${area} natpunch_layer_check)  # checked before anything compiles
  endforeach()

  add_custom_target(natpunch_layer_links)
  foreach(area IN LISTS areas)
    natpunch_layer_link(natpunch_layer_link_${area} ${area})
    add_dependencies(natpunch_layer_links natpunch_layer_link_${area})
  endforeach()

  add_library(natpunch)
  foreach(area IN LISTS areas)
    target_sources(natpunch PRIVATE $<TARGET_OBJECTS:natpunch_${area}>)
  endforeach()
  set_target_properties(natpunch PROPERTIES LINKER_LANGUAGE CXX)
endfunction()
