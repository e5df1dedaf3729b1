#!/usr/bin/env bash
# Data-parallel charrnn over MPI against one process: 2 ranks with batch B must
# reach the same weights (within 1e-5) and the same validation loss as one
# process with batch 2B, and a 2-rank checkpoint resumes on 1 rank as if it
# had been one all along. Skipped (exit 77) where cgrad was built without MPI.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ex=$(cd "${1:?usage: mpi.sh BUILD/examples DATA CKPT_DIFF MPI_FOUND}" && pwd)
data=$(cd "${2:?}" && pwd)
diff=${3:?}
if [ "${4:-0}" != 1 ] || ! command -v mpirun >/dev/null; then
    echo "mpi: skipped: cgrad was built without MPI, or mpirun is missing (apt-get install openmpi-bin libopenmpi-dev)"
    exit 77
fi
# CI runs as root; two ranks on two (or fewer) cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$here/check.sh"
args=("$data/sonnets.txt" --hidden 32 --seq-len 16 --eval-every 6 --clip 1)
val() { awk -F, 'END { print $3 }' "$1.csv"; } # the last validation loss in a loss log
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5) }'; }

check "one process, batch 8" "$ex/charrnn" train "${args[@]}" --batch 8 --steps 12 --out one.st
check "2 ranks, batch 4 each" mpirun -np 2 "$ex/charrnn" train "${args[@]}" --batch 4 --steps 12 --out two.st
check "the same weights after 12 steps" "$diff" one.st two.st 1e-5
check "the same validation loss" close "$(val one)" "$(val two)"
check "one process to step 18" "$ex/charrnn" train "${args[@]}" --batch 8 --steps 18 --out one18.st
check "the 2-rank checkpoint resumes on 1 rank" bash -c "cp two.st mixed.st && cp two.st.csv mixed.st.csv &&
    '$ex/charrnn' train '$data/sonnets.txt' --steps 18 --resume mixed.st --out mixed.st"
check "and reaches the same weights" "$diff" one18.st mixed.st 1e-5
check "a 1-rank checkpoint resumes on 2 ranks" bash -c "cp one.st back.st && cp one.st.csv back.st.csv &&
    mpirun -np 2 '$ex/charrnn' train '$data/sonnets.txt' --steps 18 --resume back.st --out back.st"
check "and reaches the same weights too" "$diff" one18.st back.st 1e-5
check "rank 0 alone prints" bash -c "mpirun -np 2 '$ex/charrnn' train ${args[*]} --batch 4 --steps 6 --out p.st | grep -c '^val_loss' | grep -qx 1"
echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
