# bench/torch_env.sh — sourced by the bench scripts: PyTorch on OpenBLAS (unpacked beside
# Debian's reference BLAS, which python3-torch links by default), held to a thread count,
# with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for its process.
#   torch_python OMP BLAS SCRIPT ARGS...   PyTorch with OMP intra-op threads, BLAS OpenBLAS threads
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
    { echo "$(basename "$0") needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
openblas_dir=/tmp/cgrad-openblas
if [ ! -f "$openblas_dir/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3" ]; then
    (cd /tmp && apt-get download libopenblas0-pthread >/dev/null 2>&1 && dpkg -x libopenblas0-pthread_*.deb "$openblas_dir") ||
        echo "note: could not unpack OpenBLAS; PyTorch runs on Debian's reference BLAS" >&2
fi
torch_python() {
    local omp=$1 blas=$2
    shift 2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE LD_LIBRARY_PATH="$openblas_dir/usr/lib/x86_64-linux-gnu/openblas-pthread" \
        OMP_NUM_THREADS="$omp" OPENBLAS_NUM_THREADS="$blas" /usr/bin/python3 "$@"
}
