
[[ range $k, $v := tree "app" ]][[ $k ]]=[[ $v.Value | base64Encode ]]
[[ end ]][[ 1 | add 2 | multiply 3 | divide 2 | modulo 2 ]][[ regexReplaceAll "(a+)" "<$1>" "caaat" ]][[ "a b" | replaceAll " " "_" | trimSpace | indent 2 ]][[ timestamp "2006" ]]