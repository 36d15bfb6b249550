# How CTest runs MPI jobs on this machine (tests/distributed, the MNIST example's distributed
# test). Sets, when tapegrad is built on MPI and mpirun was found:
#   TG_MPIRUN              mpirun and its options, a list (the rank count follows:
#                          ${MPIEXEC_NUMPROC_FLAG} N)
#   TG_MPI_ENV             the jobs' ENVIRONMENT
#   TG_MPI_ENV_CHANGES     their ENVIRONMENT_MODIFICATION
#   TG_OPEN_MPI            whether mpirun is Open MPI's
# and leaves them empty otherwise; TG_MPI_SKIPPED then says why.
set(TG_MPIRUN "")
set(TG_OPEN_MPI OFF)
set(TG_MPI_ENV "")
set(TG_MPI_ENV_CHANGES "")
set(TG_MPI_SKIPPED "")
if(NOT TG_USES_MPI)
  set(TG_MPI_SKIPPED "tapegrad was built without MPI")
  return()
elseif(NOT MPIEXEC_EXECUTABLE)
  set(TG_MPI_SKIPPED "mpirun was not found (Debian: apt-get install openmpi-bin)")
  return()
endif()

set(TG_MPIRUN ${MPIEXEC_EXECUTABLE})
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _tg_mpirun_version
                ERROR_QUIET)
if(_tg_mpirun_version MATCHES "Open MPI|OpenRTE")
  set(TG_OPEN_MPI ON)
  # More ranks than cores (CI has two), no pinning to cores (other tests run beside), and a bound
  # on the whole job should everything else fail.
  list(APPEND TG_MPIRUN --oversubscribe --bind-to none --timeout 100)
endif()
# Root may run the jobs (CI does). The ranks share this machine, so Open MPI's shared memory is
# the one transport (its TCP transport takes its locks in an order ThreadSanitizer reports), and
# it copies through a buffer, as containers often forbid one process to read another's memory.
set(TG_MPI_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
    OMPI_MCA_btl_vader_single_copy_mechanism=none)
# Open MPI leaves memory allocated at exit, from components it has unloaded by then (so no
# suppression can name them): LeakSanitizer is off for these jobs. The single-process tests
# check tapegrad's own allocations for leaks.
set(TG_MPI_ENV_CHANGES ASAN_OPTIONS=path_list_append:detect_leaks=0)
