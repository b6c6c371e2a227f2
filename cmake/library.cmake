# libstage: the components of the library (STAGE_LIB_COMPONENTS) as one
# shared and one static library, installed with the public headers, a CMake
# package (find_package(Stage) -> Stage::stage), stage.pc, the stage
# command and its man page.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(objs)
foreach(c ${STAGE_LIB_COMPONENTS})
  list(APPEND objs $<TARGET_OBJECTS:stage_${c}>)
endforeach()

# What libstage needs at link time: names for the installed package, the
# imported targets here.
set(STAGE_LINK_LIBS ${UV_LIBRARIES} ${LUA_LIBRARIES} ${SODIUM_LIBRARIES})

add_library(stage_shared SHARED ${objs})
add_library(stage_static STATIC ${objs})
foreach(lib stage_shared stage_static)
  set_target_properties(${lib} PROPERTIES OUTPUT_NAME stage EXPORT_NAME
                        ${lib})
  target_include_directories(${lib} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
set_target_properties(stage_shared PROPERTIES
  EXPORT_NAME stage
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
set_target_properties(stage_static PROPERTIES EXPORT_NAME stage_static)
target_link_libraries(stage_shared PRIVATE
  PkgConfig::UV PkgConfig::LUA PkgConfig::SODIUM Threads::Threads m)
# A static library's users link its dependencies themselves.
target_link_libraries(stage_static INTERFACE
  $<BUILD_INTERFACE:PkgConfig::UV PkgConfig::LUA PkgConfig::SODIUM>
  $<INSTALL_INTERFACE:${STAGE_LINK_LIBS}>
  Threads::Threads m)
# Linking refuses an undefined symbol: every one is in the objects or in
# the libraries above.
target_link_options(stage_shared PRIVATE -Wl,--no-undefined)

install(TARGETS stage_shared stage_static EXPORT StageTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/stage
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

set(cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/Stage)
install(EXPORT StageTargets NAMESPACE Stage:: DESTINATION ${cmakedir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/StageConfig.cmake.in
  ${PROJECT_BINARY_DIR}/StageConfig.cmake INSTALL_DESTINATION ${cmakedir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/StageConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/StageConfig.cmake
  ${PROJECT_BINARY_DIR}/StageConfigVersion.cmake DESTINATION ${cmakedir})

# stage.pc: Libs.private and Requires.private serve `pkg-config --static`.
# Its prefix is found from where the file is, so an install under another
# prefix (cmake --install --prefix DIR) still finds its library.
file(RELATIVE_PATH STAGE_PC_TO_PREFIX
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/stage.pc.in
  ${PROJECT_BINARY_DIR}/stage.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/stage.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${PROJECT_SOURCE_DIR}/docs/stage.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
