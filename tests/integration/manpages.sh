#!/bin/bash
# The manual pages render without a single groff warning, and mobileidctl(1)
# describes every command `mobileidctl --help` lists, so the page cannot
# silently fall behind the program.
. "$top_srcdir/tests/integration/lib.sh"

command -v groff >/dev/null 2>&1 || t_skip_all "groff is not installed (Debian: groff-base)"

pages="mobileidd.8 mobileidctl.1 mobileidd.json.5 mid-reader-sim.1 mid-phone-sim.1"
for p in $pages; do
	src="$top_srcdir/man/$p"
	t_ok "$p exists" test -s "$src"
	# -ww: every warning; -z: no output, only the diagnostics.
	groff -man -Tutf8 -ww -z "$src" >"$T/$p.warn" 2>&1
	rc=$?
	t_eq "$p: groff exits 0" "$rc" 0
	t_nogrep "$p: no groff warnings" "." "$T/$p.warn"
	[ -s "$T/$p.warn" ] && sed 's/^/#   /' "$T/$p.warn" | head -20
	# Also at a narrow terminal width, where long lines would not fit.
	groff -man -Tutf8 -ww -z -rLL=65n "$src" >"$T/$p.warn65" 2>&1
	t_nogrep "$p: no groff warnings at 65 columns" "." "$T/$p.warn65"
	[ -s "$T/$p.warn65" ] && sed 's/^/#   /' "$T/$p.warn65" | head -20
done

# Every command of `mobileidctl --help` appears in the rendered page.
mobileidctl --help >"$T/help.txt" 2>&1
t_eq "mobileidctl --help exits 0" "$?" 0
sed -n '/^Commands:/,/^$/p' "$T/help.txt" | sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)\{0,1\}\)  .*/\1/p' >"$T/commands.txt"
n=$(wc -l <"$T/commands.txt")
t_ok "mobileidctl --help lists commands ($n)" test "$n" -ge 10
groff -man -Tascii -P-c -P-b -P-u "$top_srcdir/man/mobileidctl.1" 2>/dev/null |
	tr -s ' \n\t' '   ' >"$T/mobileidctl.txt"
while read -r cmd; do
	t_ok "mobileidctl.1 describes '$cmd'" grep -q -F -- " $cmd " "$T/mobileidctl.txt"
done <"$T/commands.txt"

# The global options of --help are in the page too.
for opt in --config --json --help --version; do
	t_ok "mobileidctl.1 names $opt" grep -q -F -- "$opt" "$T/mobileidctl.txt"
done
t_done
