# Fails when the freestanding runtime core (ARCHIVE) needs any symbol from
# outside itself other than memcpy, memset and memcmp (what a firmware C
# library, or the compiler's own builtins, always provide), or the list in
# ALLOWED. test/firmware/CheckFirmwareCore.cmake includes it.
cmake_policy(SET CMP0007 NEW) # lists keep empty elements (skipped below)
execute_process(COMMAND ${NM} --undefined-only --format=just-symbols ${ARCHIVE}
                OUTPUT_VARIABLE undefined RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${ARCHIVE}")
endif()
execute_process(COMMAND ${NM} --defined-only --format=just-symbols ${ARCHIVE}
                OUTPUT_VARIABLE defined)
string(REPLACE "\n" ";" undefined "${undefined}")
string(REPLACE "\n" ";" defined "${defined}")
if(NOT DEFINED ALLOWED)
  set(ALLOWED memcpy memset memcmp)
endif()
set(allowed ${ALLOWED})
set(unexpected "")
foreach(symbol IN LISTS undefined)
  if(symbol STREQUAL "" OR symbol MATCHES ":$")
    continue()
  endif()
  list(FIND defined "${symbol}" defined_index)
  list(FIND allowed "${symbol}" allowed_index)
  if(defined_index EQUAL -1 AND allowed_index EQUAL -1)
    list(APPEND unexpected "${symbol}")
  endif()
endforeach()
if(unexpected)
  list(REMOVE_DUPLICATES unexpected)
  message(FATAL_ERROR "freestanding core ${ARCHIVE} needs: ${unexpected}")
endif()
message(STATUS "freestanding core needs only ${ALLOWED}")
