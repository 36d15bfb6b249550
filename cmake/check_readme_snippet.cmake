# Fails unless README contains SNIPPET's code verbatim (from its first #include on).
file(READ "${SNIPPET}" snippet)
file(READ "${README}" readme)
string(FIND "${snippet}" "#include" start)
string(SUBSTRING "${snippet}" ${start} -1 code)
string(FIND "${readme}" "${code}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "${README} does not contain ${SNIPPET} (from its first #include): "
                      "update the README's example")
endif()
