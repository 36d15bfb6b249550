# Runs COMMAND (a list, ";"-separated, passed as "|"-separated) and succeeds only if it fails
# within LIMIT seconds with output matching EXPECT: a job whose rank misbehaves must end with an
# error that says why, never hang.
string(REPLACE "|" ";" command "${COMMAND}")
string(TIMESTAMP start "%s")
execute_process(COMMAND ${command} RESULT_VARIABLE result OUTPUT_VARIABLE output
                ERROR_VARIABLE output TIMEOUT ${LIMIT})
string(TIMESTAMP end "%s")
math(EXPR took "${end} - ${start}")
message("${output}")
message("exit: ${result}, after ${took} s")
if(result STREQUAL "0")
  message(FATAL_ERROR "the job succeeded; it should have failed")
endif()
if(result MATCHES "timeout")
  message(FATAL_ERROR "the job did not end within ${LIMIT} s")
endif()
if(NOT output MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output does not say '${EXPECT}'")
endif()
