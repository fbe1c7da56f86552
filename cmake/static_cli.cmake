# How the `latch` executable is linked (the library target and its exported interface are
# not affected). `latch token` is run by scripts and credential helpers on every request, so
# its start-up time matters (bench/README.md, target P3). Loading 11 shared objects cost
# ~2.8 ms per start, half of it libcrypto.so alone (4.7 MB: mapping, relocations, initialisation),
# so with LATCH_STATIC_CLI=ON (the default) the CLI links Debian's static archives of
# Boost.JSON/URL/System/Container and OpenSSL, libstdc++ and libgcc, and fmt header-only;
# it then needs only glibc and libqrencode at run time.
#
# Trade-off: a static OpenSSL is not updated by the distribution's libssl3 security
# updates; latch has to be rebuilt instead. Packagers who prefer that set
# -DLATCH_STATIC_CLI=OFF (the CLI then links the same shared libraries as the library).
#
# The archives come first on the link line, so they define every symbol the shared
# libraries of latchkey's interface (Boost::json, OpenSSL::SSL, ...) would have; with
# --as-needed those shared libraries are then not recorded as dependencies.

# LATCH_CLI_PIE=OFF links latch as a fixed-address executable. With the static archives,
# a PIE start spends half its page faults relocating (ld.so's _dl_relocate_object writes
# every page of 440 KB of .data.rel.ro: vtables and OpenSSL's pointer tables): ~120 of 258
# faults and ~0.3 ms of a `latch token` (bench/README.md, issue 16). The price is ASLR of
# the executable's own image (libraries, heap and stack stay randomised), so PIE stays the
# default; a packager who wants the faster start and accepts that sets it OFF.
#
# The front `latch` (apps/latch/front/main.cpp) links only the credential store: with PIE
# it has ~3 800 relative relocations and ~97 page faults per start (`cat`: ~75), so the
# `latch token` of a cached token keeps ASLR and stays within 1.2x of `cat` either way;
# LATCH_CLI_PIE=OFF now matters only for the commands latch-cli runs.
if(NOT LATCH_CLI_PIE AND NOT LATCH_SANITIZE)
  target_link_options(latch-cli PRIVATE -no-pie)
  target_link_options(latch PRIVATE -no-pie)
endif()

if(NOT LATCH_STATIC_CLI OR LATCH_SANITIZE)
  target_link_libraries(latch-cli PRIVATE fmt::fmt)
  if(NOT LATCH_SANITIZE)  # the front needs no libssl/libcrypto at run time
    target_link_options(latch PRIVATE LINKER:--as-needed)
  endif()
  return()
endif()

set(_latch_static_libs)
foreach(_lib boost_json boost_url boost_system boost_container ssl crypto)
  find_library(LATCH_STATIC_${_lib} NAMES lib${_lib}.a)
  if(NOT LATCH_STATIC_${_lib})
    message(FATAL_ERROR "LATCH_STATIC_CLI: lib${_lib}.a not found; install its -dev package "
                        "or configure with -DLATCH_STATIC_CLI=OFF")
  endif()
  list(APPEND _latch_static_libs ${LATCH_STATIC_${_lib}})
endforeach()

# fmt: only apps/latch/terminal.cpp uses it; Debian ships no libfmt.a.
target_link_libraries(latch-cli PRIVATE fmt::fmt-header-only ${_latch_static_libs} Threads::Threads)
target_link_libraries(latch PRIVATE ${_latch_static_libs})  # only Boost.JSON/URL get used
foreach(_t latch-cli latch)
  target_link_options(${_t} PRIVATE -static-libstdc++ -static-libgcc LINKER:--as-needed)
endforeach()
