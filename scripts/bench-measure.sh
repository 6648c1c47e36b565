# Sourced by the benchmark scripts (scripts/bench-ledger, scripts/bench-report): `measure LABEL
# CMD...` runs one command, its output discarded, and prints its wall time, CPU time (user +
# system) and peak RSS (MB) from /usr/bin/time. Needs $tmp (a scratch directory).

measure() {
    local label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || {
        echo "$label: failed: $(tail -3 "$tmp/err")"
        return 1
    }
    read -r secs user sys kb <"$tmp/time"
    printf "%-58s %8.2f s wall %8.2f s CPU %8.1f MB peak RSS\n" "$label" "$secs" \
        "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
}
