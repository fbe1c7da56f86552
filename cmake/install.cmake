# Installs the SDK: public headers, the static library (with the compiled Asio/Beast of
# transport/src/boost_impl.cpp inside), the `latch` CLI, and a CMake package so that
#
#   find_package(latchkey CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE latchkey::latchkey)
#
# works against `cmake --install <build> --prefix <prefix>`. The target carries the usage
# requirements consumers need: include/, C++20, Boost json/url/system, OpenSSL, Threads and
# the PUBLIC definitions BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION
# (the consumer must not compile Asio/Beast a second time).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LATCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/latchkey)

set_target_properties(latchkey PROPERTIES EXPORT_NAME latchkey)
target_compile_features(latchkey PUBLIC cxx_std_20)

install(TARGETS latchkey EXPORT latchkeyTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)  # include/ comes from INSTALL_INTERFACE
foreach(module core flows transport)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          COMPONENT dev
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
if(TARGET latch)
  # OPTIONAL: an SDK-only build (ninja latchkey) installs without the CLI.
  install(TARGETS latch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli OPTIONAL)
  # The whole CLI, which the front `latch` execs (apps/latch/front/main.cpp).
  install(TARGETS latch-cli RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/latchkey
          COMPONENT cli OPTIONAL)
endif()

install(EXPORT latchkeyTargets
        NAMESPACE latchkey::
        FILE latchkeyTargets.cmake
        DESTINATION ${LATCH_CMAKE_DIR}
        COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/latchkeyConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/latchkeyConfig.cmake
                              INSTALL_DESTINATION ${LATCH_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/latchkeyConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/latchkeyConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/latchkeyConfigVersion.cmake
        DESTINATION ${LATCH_CMAKE_DIR}
        COMPONENT dev)
# The CLI's man page, completions, stripping and the .deb (cpack).
include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
