# What `cmake --install` puts next to the `latch` executable, and the Debian package.
#
# - latch itself, stripped (LATCH_INSTALL_STRIP, default ON: the RelWithDebInfo build is
#   mostly DWARF), and docker-credential-latch, a symlink docker runs for "credsStore":
#   "latch" (latch then acts as `latch docker-credential`: apps/latch/program_name.cpp);
# - latch.1 and the bash/zsh/fish completions, generated at build time by the built latch
#   from its own command definitions (`latch --man`, `latch completion SHELL`), so they
#   cannot drift from the CLI;
# - `cpack -G DEB` (from the build directory): latchkey_<version>_<arch>.deb with the CLI
#   (component cli; its shared-library dependencies computed by dpkg-shlibdeps) and
#   latchkey-dev with the SDK (component dev: headers, static library, CMake package).
#
# Cross-compiling would need an emulator to run latch; not supported here.
include(GNUInstallDirs)

option(LATCH_INSTALL_STRIP "Strip the latch executable when installing it" ON)

if(TARGET latch)
  set(LATCH_GENERATED ${PROJECT_BINARY_DIR}/generated)
  set(LATCH_MAN_PAGE ${LATCH_GENERATED}/latch.1)
  set(LATCH_COMPLETIONS ${LATCH_GENERATED}/latch.bash ${LATCH_GENERATED}/_latch ${LATCH_GENERATED}/latch.fish)
  add_custom_command(
    OUTPUT ${LATCH_MAN_PAGE} ${LATCH_COMPLETIONS}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${LATCH_GENERATED}
    COMMAND sh -c "\"$1\" --man > \"$2/latch.1\" && \"$1\" completion bash > \"$2/latch.bash\" && \"$1\" completion zsh > \"$2/_latch\" && \"$1\" completion fish > \"$2/latch.fish\""
            sh $<TARGET_FILE:latch> ${LATCH_GENERATED}
    DEPENDS latch
    COMMENT "Generating latch.1 and the shell completions from latch's command definitions"
    VERBATIM)
  add_custom_target(latch_docs ALL DEPENDS ${LATCH_MAN_PAGE} ${LATCH_COMPLETIONS})

  # OPTIONAL like latch itself: an SDK-only build (ninja latchkey) installs without them.
  install(FILES ${LATCH_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT cli OPTIONAL)
  install(FILES ${LATCH_GENERATED}/latch.bash RENAME latch
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT cli OPTIONAL)
  install(FILES ${LATCH_GENERATED}/_latch
          DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions COMPONENT cli OPTIONAL)
  install(FILES ${LATCH_GENERATED}/latch.fish
          DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT cli OPTIONAL)

  # After install(TARGETS latch) in install.cmake: strip the installed copy (not the build
  # tree's, which gdb and the tests use) and add the docker credential helper's name.
  set(_latch_installed "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}")
  set(_latch_cli_installed
      "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBEXECDIR}/latchkey/latch-cli")
  if(LATCH_INSTALL_STRIP AND CMAKE_STRIP)
    foreach(_exe "${_latch_installed}/latch" "${_latch_cli_installed}")
      install(CODE "
        if(EXISTS \"${_exe}\")
          execute_process(COMMAND \"${CMAKE_STRIP}\" \"${_exe}\" RESULT_VARIABLE _rc)
          if(_rc)
            message(FATAL_ERROR \"stripping ${_exe} failed\")
          endif()
        endif()" COMPONENT cli)
    endforeach()
  endif()
  install(CODE "
    if(EXISTS \"${_latch_installed}/latch\")
      file(CREATE_LINK latch \"${_latch_installed}/docker-credential-latch\" SYMBOLIC)
    endif()" COMPONENT cli)
endif()

set(CPACK_PACKAGE_NAME latchkey)
set(CPACK_PACKAGE_VENDOR "latchkey")
set(CPACK_PACKAGE_CONTACT "latchkey maintainers <latchkey@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OAuth 2.0 / OpenID Connect login from a terminal")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME latchkey)
set(CPACK_DEBIAN_CLI_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS "xdg-utils, libsecret-1-0")  # libsecret: dlopen()ed for `storage keyring`
set(CPACK_DEBIAN_CLI_PACKAGE_SUGGESTS "gnome-keyring")
set(CPACK_DEBIAN_CLI_DESCRIPTION "OAuth 2.0 / OpenID Connect login from a terminal (latch)\n"
    "latch logs in with the browser, a device code, a password, client credentials or a\n"
    "machine key, keeps the tokens fresh, and hands them to kubectl, git and docker.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME latchkey-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libboost-json1.81-dev, libboost-url1.81-dev, libboost-system1.81-dev, libssl-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "latchkey C++20 OAuth 2.0 / OpenID Connect client library\n"
    "Headers, the static library and the CMake package: find_package(latchkey).")
include(CPack)
