#!/usr/bin/env python3
"""Prints how this machine's PyTorch runs (version, the BLAS library the process actually loaded,
oneDNN, CPU capability, threads) and exits with status 1 if that BLAS is Debian's reference BLAS:
a comparison against it would flatter tapegrad (PyTorch's linear layers run 2-2.5x slower on it
than on the OpenBLAS that `apt-get install python3-torch` brings through its Recommends)."""
import ctypes
import os
import sys

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')  # as bench/torch_ref.py
import torch

torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # makes sure the BLAS is loaded


def sgemm_provider():
    """The file that sgemm_ of the process's libblas.so.3 comes from (LAPACK may load OpenBLAS
    beside a reference libblas, so a list of loaded files would not tell)."""
    class DlInfo(ctypes.Structure):
        _fields_ = [('fname', ctypes.c_char_p), ('fbase', ctypes.c_void_p),
                    ('sname', ctypes.c_char_p), ('saddr', ctypes.c_void_p)]
    blas = ctypes.CDLL('libblas.so.3', mode=os.RTLD_NOLOAD)  # the copy torch already loaded
    info = DlInfo()
    libc = ctypes.CDLL(None)
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    if not libc.dladdr(ctypes.cast(blas.sgemm_, ctypes.c_void_p), ctypes.byref(info)):
        return 'unknown'
    return os.path.realpath(info.fname.decode())


def openblas_core():
    """The kernel set OpenBLAS chose (or was told to use) for this CPU: Haswell is AVX2."""
    try:
        blas = ctypes.CDLL('libblas.so.3', mode=os.RTLD_NOLOAD)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_corename().decode()
    except (AttributeError, OSError):
        return 'not OpenBLAS'


provider = sgemm_provider()
config = torch.__config__.show().splitlines()
onednn = next((line.strip(' -') for line in config if 'MKL-DNN' in line or 'oneDNN' in line), 'none')
capability = next((line.strip(' -') for line in config if 'CPU capability' in line), 'unknown')
print(f'PyTorch {torch.__version__}; sgemm from {provider} (core {openblas_core()}); {onednn}; '
      f'{capability}; OPENBLAS_NUM_THREADS={os.environ["OPENBLAS_NUM_THREADS"]} '
      f'(torch_ref.py sets torch\'s own threads to --threads)')
if 'openblas' not in provider:
    sys.exit('refusing to compare: PyTorch runs on the reference BLAS, not OpenBLAS '
             '(apt-get install libopenblas0-pthread)')
