#!/bin/sh
# mkman3.sh HEADER OUTDIR VERSION - one man page per public function of HEADER (subproc_NAME.3
# in OUTDIR), made from the header itself, so that `man subproc_spawn` works and no function is
# ever without a page: its prototype, the doc comment that the header gives it (shared by the
# declarations that follow one comment), the errors that comment names, and the functions of the
# same section of the header. subproc(3) is the hand-written overview the pages point to.
set -eu
hdr=$1
out=$2
version=$3
mkdir -p "$out"
rm -f "$out"/subproc_*.3
awk -v out="$out" -v version="$version" '
function esc(s) {                      # text to troff: backslashes, leading dots and quotes
    gsub(/\\/, "\\e", s)
    if (s ~ /^[.\047]/) s = "\\&" s
    return s
}
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function flush_page(name,    f, i, n, line, errs, t, first, retint, sec) {
    f = out "/" name ".3"
    first = cmt[name]
    # NAME line: the first sentence of the comment, else the section title.
    t = first
    gsub(/\n/, " ", t)
    if (t ~ /^Errors:/) t = ""            # a comment that only lists errors is no summary
    gsub(/\.\.\./, "@ELLIPSIS@", t)     # "e.g." and "..." end no sentence
    gsub(/e\.g\./, "e@DOT@g@DOT@", t)
    gsub(/i\.e\./, "i@DOT@e@DOT@", t)
    if (match(t, /\. /)) t = substr(t, 1, RSTART)
    gsub(/@DOT@/, ".", t)
    gsub(/@ELLIPSIS@/, "...", t)
    if (t == "" || length(t) > 90) t = "part of libsubproc: " tolower(section[name])
    if (t !~ /\.\.\.$/) sub(/\.$/, "", t)
    printf ".TH %s 3 \"\" \"subproc %s\" \"libsubproc manual\"\n", toupper(name), version > f
    printf ".nh\n.ad l\n" > f
    printf ".SH NAME\n%s \\- %s\n", name, esc(t) > f
    printf ".SH SYNOPSIS\n.nf\n.B #include <subproc.h>\n.PP\n" > f
    n = split(proto[name], line, "\n")
    for (i = 1; i <= n; i++) printf "%s\n", esc(line[i]) > f
    printf ".fi\n.PP\nLink with \\fB\\-lsubproc\\fP (\\fBpkg\\-config \\-\\-libs subproc\\fP).\n" > f
    printf ".SH DESCRIPTION\n" > f
    if (first == "") printf "See \\fBsubproc\\fP(3).\n" > f
    n = split(first, line, "\n")
    for (i = 1; i <= n; i++) {
        if (line[i] == "") { printf ".PP\n" > f; continue }
        if (line[i] ~ /^ *- /) printf ".br\n" > f
        printf "%s\n", esc(line[i]) > f
    }
    retint = proto[name] ~ /^int /
    errs = ""
    t = first
    while (match(t, /-E[A-Z0-9]+/)) {
        if (index(errs " ", " " substr(t, RSTART + 1, RLENGTH - 1) " ") == 0)
            errs = errs " " substr(t, RSTART + 1, RLENGTH - 1)
        t = substr(t, RSTART + RLENGTH)
    }
    printf ".SH RETURN VALUE\n" > f
    if (retint && errs != "")
        printf "0 on success (or the value described above), else a negative errno value; \\fBsubproc_strerror\\fP(3) puts it in words.\n" > f
    else if (proto[name] ~ /^void /)
        printf "None.\n" > f
    else
        printf "As described above.\n" > f
    printf ".SH ERRORS\n" > f
    if (errs != "")
        printf "Named above:%s. Every errno value the library returns is listed in \\fBsubproc\\fP(3), ERRORS.\n", errs > f
    else if (retint)
        printf "None beyond what is described above. \\fBsubproc\\fP(3), ERRORS, lists every errno value the library returns.\n" > f
    else
        printf "This function reports no errors.\n" > f
    printf ".SH SEE ALSO\n\\fBsubproc\\fP(3), \\fBsubproc\\fP(1).\n" > f
    sec = members[section[name]]
    n = split(sec, line, " ")
    if (n > 1) printf ".PP\nThe other functions of the part \\(lq%s\\(rq of \\fI<subproc.h>\\fP:\n", section[name] > f
    t = ""
    for (i = 1; i <= n; i++) if (line[i] != name) { printf "%s\\fB%s\\fP(3)", t, line[i] > f; t = ",\n" }
    if (n > 1) printf ".\n" > f
    close(f)
}
BEGIN { sect = "Version"; incomment = 0; banner = 0 }
# Section banners: a rule, a title, a rule. Smaller sections: "/* ---- I/O (io.c) ---- */".
/^\/\* -+ \*\/$/ { banner = !banner; comment = ""; next }
banner && /^\/\* / { t = $0; sub(/^\/\* /, "", t); sub(/ *\*\/$/, "", t); sect = trim(t); next }
/^\/\* ---- .* -+ \*\/$/ { t = $0; sub(/^\/\* ---- /, "", t); sub(/ -+ \*\/$/, "", t); sect = t; comment = ""; next }
# Doc comments that start a line: collected, then given to the declarations right after.
!incomment && /^\/\*/ {
    comment = ""; t = $0; sub(/^\/\*+ ?/, "", t)
    if (t ~ /\*\/$/) { sub(/ *\*\/$/, "", t); comment = trim(t); next }
    comment = trim(t); incomment = 1; next
}
incomment {
    t = $0; done = t ~ /\*\//; sub(/ *\*\/.*$/, "", t); sub(/^ *\* ?/, "", t)
    if (t == "" && comment != "") comment = comment "\n"
    else if (t != "") comment = (comment == "" ? t : comment "\n" t)
    if (done) incomment = 0
    next
}
/^$/ { comment = ""; next }
/^typedef/ || /^#/ || /^ / || /^}/ { if ($0 !~ /^#define/) comment = ""; next }
# A declaration: from the line naming subproc_x( to the ";".
/^[a-z][a-z_ *]*[ *]subproc_[a-z0-9_]+\(/ {
    decl = $0
    while (decl !~ /;/ && (getline l) > 0) decl = decl "\n" l
    name = decl; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
    tail = ""
    if (match(decl, /; *\/\*.*\*\//)) { tail = substr(decl, RSTART + 1); sub(/^ *\/\* */, "", tail); sub(/ *\*\/$/, "", tail) }
    sub(/;.*$/, ";", decl)
    gsub(/ +/, " ", decl)
    proto[name] = decl
    cmt[name] = comment (tail != "" ? (comment != "" ? "\n\n" : "") name "(): " tail "." : "")
    s2 = sect
    gsub(/ \([a-z_]+\.c(, [a-z_]+\.c)*\)/, "", s2)   # "Pipelines (pipeline.c)": no file names
    section[name] = s2
    members[s2] = members[s2] " " name
    names[++count] = name
    next
}
END {
    for (i = 1; i <= count; i++) {
        if (cmt[names[i]] == "") printf "mkman3.sh: %s has no doc comment in the header\n", names[i] > "/dev/stderr"
        flush_page(names[i])
    }
}
' "$hdr"
ls "$out" | wc -l | tr -d ' '
