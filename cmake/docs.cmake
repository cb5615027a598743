# Shell completions and manual pages, built with genqctl and installed by `cmake --install` and
# the .deb (CPack installs the same rules).
#
# Completions are written by genqctl itself (`genqctl completion bash|zsh|fish` walks the
# command definitions), after every link of genqctl, so a new command or option is never missing.
set(GENQ_COMPLETION_DIR ${CMAKE_BINARY_DIR}/completions)
set(GENQ_COMPLETION_FILES bash:genqctl zsh:_genqctl fish:genqctl.fish)
foreach(entry ${GENQ_COMPLETION_FILES})
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 shell)
  list(GET parts 1 name)
  add_custom_command(TARGET genqctl POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory ${GENQ_COMPLETION_DIR}/${shell}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:genqctl> -DARGS=completion,${shell}
            -DOUT=${GENQ_COMPLETION_DIR}/${shell}/${name} -P ${CMAKE_SOURCE_DIR}/cmake/run_to_file.cmake
    VERBATIM)
endforeach()
install(FILES ${GENQ_COMPLETION_DIR}/bash/genqctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${GENQ_COMPLETION_DIR}/zsh/_genqctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${GENQ_COMPLETION_DIR}/fish/genqctl.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)

# Manual pages from docs/man/*.scd with scdoc (Debian package scdoc; scripts/deps.sh installs it).
# Without scdoc the build says so and goes on without them. They are installed gzipped with
# `gzip -9n` (Debian policy 12.1: compressed, no name or time stamp in the header, so the
# package is reproducible); man reads them as they are. build/man/ keeps the plain pages too.
find_program(GENQ_SCDOC scdoc)
find_program(GENQ_GZIP gzip REQUIRED)
file(GLOB GENQ_MAN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/*.scd)
if(NOT GENQ_SCDOC)
  message(WARNING "scdoc not found: the manual pages are not built (apt-get install scdoc)")
else()
  set(GENQ_MAN_PAGES "")
  foreach(src ${GENQ_MAN_SOURCES})
    get_filename_component(page ${src} NAME_WLE)        # genqctl.1
    string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${page})
    set(out ${CMAKE_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out} ${out}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${GENQ_SCDOC} < ${src} > ${out}
      COMMAND ${GENQ_GZIP} -9n -c ${out} > ${out}.gz
      DEPENDS ${src} COMMENT "scdoc ${page}")
    list(APPEND GENQ_MAN_PAGES ${out} ${out}.gz)
    install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(genq_man ALL DEPENDS ${GENQ_MAN_PAGES})
  # `ninja genqd genqctl` (README, scripts) builds the pages too, so an install finds them.
  add_dependencies(genqctl genq_man)
endif()
