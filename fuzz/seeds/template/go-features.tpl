{{define "t"}}[{{.}}]{{end}}{{$x := 3}}{{range $i, $e := split "," "a,b,c"}}{{if eq $i 1}}{{template "t" $e}}{{else if gt $i 1}}{{printf "%05.2f|%q|%v" 3.14159 "s" $e}}{{else}}{{- $e -}}{{end}}{{end}}
{{with $m := parseJSON `{"a":[1,2,{"b":null}]}`}}{{index $m "a" 2 "b"}}{{len $m}}{{toJSON $m}}{{end}}
{{scratch.Set "k" 1}}{{scratch.Get "k"}}{{/* comment */}}{{ "x" | toUpper | printf "%s-%d" 42 }}{{ and 1 0 | not }}{{ or "" "y" }}
{{ block "b" . }}default{{ end }}{{ range service "web" }}{{ .Address }}:{{ .Port }}{{ else }}none{{ end }}{{ keyOrDefault "a/b" "d" }}