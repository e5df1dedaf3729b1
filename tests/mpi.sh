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
close() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5) }'; }

check "one process, batch 8" "$ex/charrnn" train "${args[@]}" --batch 8 --steps 12 --out one.st
check "2 ranks, batch 4 each" mpirun -np 2 "$ex/charrnn" train "${args[@]}" --batch 4 --steps 12 --out two.st
check "the same weights after 12 steps" "$diff" one.st two.st 1e-5
check "the same validation loss" close "$(val one.st)" "$(val two.st)"
check "one process to step 18" "$ex/charrnn" train "${args[@]}" --batch 8 --steps 18 --out one18.st
check "the 2-rank checkpoint resumes on 1 rank" bash -c "cp two.st mixed.st && cp two.st.csv mixed.st.csv &&
    '$ex/charrnn' train '$data/sonnets.txt' --steps 18 --resume mixed.st --out mixed.st"
check "and reaches the same weights" "$diff" one18.st mixed.st 1e-5
check "a 1-rank checkpoint resumes on 2 ranks" bash -c "cp one.st back.st && cp one.st.csv back.st.csv &&
    mpirun -np 2 '$ex/charrnn' train '$data/sonnets.txt' --steps 18 --resume back.st --out back.st"
check "and reaches the same weights too" "$diff" one18.st back.st 1e-5
check "rank 0 alone prints" bash -c "mpirun -np 2 '$ex/charrnn' train ${args[*]} --batch 4 --steps 6 --out p.st | grep -c '^val_loss' | grep -qx 1"
# the README's command as written (as root too), shortened by flags appended to it
readme_cmd=$(grep -m1 '^mpirun ' "$here/../README.md" | sed "s|build/examples|$ex|")
check "the README's MPI command runs as written" bash -c "
    unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM;
    $readme_cmd --steps 2 --seq-len 8 --hidden 8 --eval-every 2 --out readme.st >/dev/null && [ -s readme.st ]"
# ranks given different settings: every rank stops, with one message, and nothing hangs
check "ranks that disagree stop together with one message" bash -c "
    timeout 60 mpirun -np 1 '$ex/charrnn' train '$data/sonnets.txt' --hidden 8 --steps 2 --out dis.st : \
        -np 1 '$ex/charrnn' train '$data/sonnets.txt' --hidden 16 --steps 2 --out dis.st >/dev/null 2>err.txt;
    rc=\$?; [ \$rc -ne 0 ] && [ \$rc -ne 124 ] && [ \$(grep -c 'different settings' err.txt) -eq 1 ] && [ ! -e dis.st ]"
check "a flag one rank refuses stops every rank" bash -c "
    timeout 60 mpirun -np 1 '$ex/charrnn' train '$data/sonnets.txt' --hidden 8 --steps 2 --out bad.st : \
        -np 1 '$ex/charrnn' train '$data/sonnets.txt' --hidden -3 --steps 2 --out bad.st >/dev/null 2>err.txt;
    rc=\$?; [ \$rc -ne 0 ] && [ \$rc -ne 124 ] && grep -q 'needs a valid value' err.txt && [ ! -e bad.st ]"
# gpt: 2 ranks splitting 2 micro-steps print one process's lines and reach its weights
gflags=$(grep '^config plain ' "$here/fixtures/gpt.txt" | cut -d' ' -f3-)
lines() { grep -E '^(step|iter) ' "$1" | sed 's/, time.*//'; }
check "gpt over 2 ranks prints one process's lines" bash -c "$(declare -f lines);
    '$ex/gpt' train --data='$data/sonnets.txt' $gflags --gradient_accumulation_steps=2 --out_dir=g1 > g1.txt &&
    mpirun -np 2 '$ex/gpt' train --data='$data/sonnets.txt' $gflags --gradient_accumulation_steps=2 --out_dir=g2 > g2.txt &&
    diff <(lines g1.txt) <(lines g2.txt) && [ \$(lines g2.txt | wc -l) -gt 10 ]"
check "and reaches its weights" "$diff" g1/ckpt.safetensors g2/ckpt.safetensors 1e-5
check "gpt ranks that disagree stop together with one message" bash -c "
    timeout 60 mpirun -np 1 '$ex/gpt' train --data='$data/sonnets.txt' $gflags --gradient_accumulation_steps=2 \
        --out_dir=gd : -np 1 '$ex/gpt' train --data='$data/sonnets.txt' $gflags --gradient_accumulation_steps=2 \
        --n_layer=1 --out_dir=gd >/dev/null 2>gerr.txt;
    rc=\$?; [ \$rc -ne 0 ] && [ \$rc -ne 124 ] && [ \$(grep -c 'different settings' gerr.txt) -eq 1 ]"
echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
