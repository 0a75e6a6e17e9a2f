//! The helpers upstream's function map has besides sprig: `toTOML`, `plugin`, `writeToFile`,
//! `spew_*`, `byPort`, `sockaddr`, and the Vault, Nomad, partition and peering functions
//! refused by name.
//! Each check cites the upstream test it mirrors (`template/template_test.go`) or the Go
//! library behaviour the expected bytes come from.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use ctemplate::dependency::Dependency;
use ctemplate::engine::{CompiledTemplate, Syntax};
use ctemplate::funcs::FuncOptions;
use ctemplate::template::{Options, Value};

use crate::common::{check, check_err};

fn render(src: &str) -> Result<String, String> {
    let t = CompiledTemplate::compile(
        "t",
        src,
        Syntax::Go,
        &Options::default(),
        FuncOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    t.execute(&HashMap::<Dependency, Value>::new())
        .map(|e| e.output)
        .map_err(|e| e.to_string())
}

#[test]
fn to_toml_as_burntsushi_encodes() {
    // template_test.go "helper_toTOML".
    check(
        "{{ \"{\\\"foo\\\":\\\"bar\\\"}\" | parseJSON | toTOML }}",
        "foo = \"bar\"",
    );
    // BurntSushi/toml v1.5 Encoder: plain keys first, then tables (two-space indent per level
    // below the top, a blank line before each top-level table); JSON numbers are float64, so
    // `1.0`; arrays inline; arrays of tables as [[k]]; nil values left out.
    check(
        "{{ parseJSON `{\"z\":1,\"name\":\"web\",\"tags\":[\"a\",\"b\"],\"none\":null,\"db\":{\"port\":5432,\"opts\":{\"ssl\":true}},\"srv\":[{\"h\":\"a\"},{\"h\":\"b\"}]}` | toTOML }}",
        "name = \"web\"\ntags = [\"a\", \"b\"]\nz = 1.0\n\n[db]\n  port = 5432.0\n  [db.opts]\n    ssl = true\n\n[[srv]]\n  h = \"a\"\n\n[[srv]]\n  h = \"b\"",
    );
    check(
        "{{ parseJSON `{\"a b\":\"x\\\"y\",\"m\":[{\"k\":1}, 2]}` | toTOML }}",
        "\"a b\" = \"x\\\"y\"\nm = [{k = 1.0}, 2.0]",
    );
    check_err(
        "{{ parseJSON `[{\"a\":1}]` | toTOML }}",
        "template: t:1:27: executing \"t\" at <toTOML>: error calling toTOML: toTOML: toml: top-level values must be Go maps or structs",
    );
}

#[test]
fn plugin_runs_a_program() {
    // template_test.go "helper_plugin": {{ "1" | plugin "echo" }} → "1".
    check("{{ \"1\" | plugin \"echo\" }}", "1");
    // Arguments are trimmed and empty ones dropped; stdout is trimmed.
    check("{{ plugin \"echo\" \"  a \" \"\" \"b\\n\" }}", "a b");
    check("{{ plugin \"\" }}", "");
    let err = render("{{ plugin \"false\" }}").unwrap_err();
    assert!(
        err.ends_with(
            "error calling plugin: exec \"false\": exit status 1\n\nstdout:\n\n\n\nstderr:\n\n"
        ),
        "{err:?}"
    );
    let err = render("{{ plugin \"no-such-plugin-xyz\" }}").unwrap_err();
    assert!(
        err.contains("exec \"no-such-plugin-xyz\": exec: \"no-such-plugin-xyz\": executable file not found in $PATH"),
        "{err:?}"
    );
    // template_test.go "helper_plugin_disabled".
    let t = CompiledTemplate::compile(
        "t",
        "{{ \"1\" | plugin \"echo\" }}",
        Syntax::Go,
        &Options::default(),
        FuncOptions {
            denylist: vec!["plugin".into()],
            ..FuncOptions::default()
        },
    )
    .unwrap();
    assert!(t.execute(&HashMap::<Dependency, Value>::new()).is_err());
}

#[test]
fn write_to_file_as_upstream() {
    // template_test.go Test_writeToFile: without flags, other permissions, append, newline,
    // append+newline, default owner, a missing directory; the template renders "".
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    std::fs::write(&file, "before").unwrap();
    let p = file.display();
    let write = |flags: &str, perms: &str| {
        render(&format!(
            "{{{{ \"after\" | writeToFile \"{p}\" \"\" \"\" \"{perms}\" {flags} }}}}"
        ))
    };
    assert_eq!(write("", "0644").unwrap(), "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "after");
    assert_eq!(write("", "0666").unwrap(), "");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666);
    std::fs::write(&file, "before").unwrap();
    write("\"append\"", "0644").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "beforeafter");
    std::fs::write(&file, "before").unwrap();
    write("\"newline\"", "0644").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "after\n");
    std::fs::write(&file, "before").unwrap();
    write("\"append,newline\"", "0644").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "beforeafter\n");

    // "writeToFile_create_directory".
    let nested = dir.path().join("demo/testing.tmp");
    render(&format!(
        "{{{{ \"after\" | writeToFile \"{}\" \"\" \"\" \"0644\" }}}}",
        nested.display()
    ))
    .unwrap();
    assert_eq!(std::fs::read_to_string(&nested).unwrap(), "after");

    // Numeric uid/gid of the current owner ("writeToFile_provide_uid_gid").
    let uid = std::fs::metadata(&file)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    let gid = std::fs::metadata(&file)
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap();
    render(&format!(
        "{{{{ \"after\" | writeToFile \"{p}\" \"{uid}\" \"{gid}\" \"0644\" }}}}"
    ))
    .unwrap();

    // Test_writeToFile_symlink_rejection.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let err = render(&format!(
        "{{{{ \"data\" | writeToFile \"{}\" \"\" \"\" \"0644\" }}}}",
        link.display()
    ))
    .unwrap_err();
    assert!(
        err.ends_with(&format!(
            "error calling writeToFile: writeToFile: refusing to write to symlink \"{}\"",
            link.display()
        )),
        "{err}"
    );
    let err = render(&format!(
        "{{{{ \"x\" | writeToFile \"{p}\" \"\" \"\" \"abc\" }}}}"
    ))
    .unwrap_err();
    assert!(
        err.ends_with(
            "error calling writeToFile: strconv.ParseUint: parsing \"abc\": invalid syntax"
        ),
        "{err}"
    );
    let err = render(&format!(
        "{{{{ \"x\" | writeToFile \"{p}\" \"no-such-user-xyz\" \"\" \"0644\" }}}}"
    ))
    .unwrap_err();
    assert!(
        err.ends_with("user: unknown user no-such-user-xyz"),
        "{err}"
    );
}

#[test]
fn spew_dumps() {
    // template_test.go "spew_sdump_helper_split".
    check(
        "{{ \"a,b,c\" | split \",\" | spew_sdump}}",
        "([]string) (len=3 cap=3) {\n (string) (len=1) \"a\",\n (string) (len=1) \"b\",\n (string) (len=1) \"c\"\n}\n",
    );
    // "spew_sdump_simple_output" (a fixed string instead of the clock).
    check(
        "{{ \"1970-01-01\" | spew_sdump }}",
        "(string) (len=10) \"1970-01-01\"\n",
    );
    check("{{ spew_sprintf \"%v-%d\" \"a\" 3 }}", "a-3");
}

#[test]
fn by_port_groups_services() {
    // funcs.go byPort: map[port][]service.
    let data: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"health.service(web|passing)": [
            {"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "a", "Service": "web", "Port": 80}},
            {"Node": {"Node": "n2", "Address": "10.0.0.2"}, "Service": {"ID": "b", "Service": "web", "Port": 8080}},
            {"Node": {"Node": "n3", "Address": "10.0.0.3"}, "Service": {"ID": "c", "Service": "web", "Port": 80}}
        ]}"#,
    )
    .unwrap();
    let t = CompiledTemplate::compile(
        "t",
        "{{ range $port, $s := service \"web\" | byPort }}{{ $port }}:{{ range $s }} {{ .ID }}{{ end }};{{ end }}",
        Syntax::Go,
        &Options::default(),
        FuncOptions::default(),
    )
    .unwrap();
    let exec = crate::common::render_passes(&t, &data).unwrap();
    assert_eq!(exec.output, "80: a c;8080: b;");
}

#[test]
fn vault_nomad_and_peering_are_refused_by_name() {
    check_err(
        "{{ with secret \"secret/x\" }}{{ .Data }}{{ end }}",
        "template: t:1:8: executing \"t\" at <secret \"secret/x\">: error calling secret: secret is not supported: this consul-template has no Vault integration",
    );
    check_err(
        "{{ nomadVar \"x\" }}",
        "template: t:1:3: executing \"t\" at <nomadVar \"x\">: error calling nomadVar: nomadVar is not supported: this consul-template has no Nomad integration",
    );
    check_err(
        "{{ peerings }}",
        "template: t:1:3: executing \"t\" at <peerings>: error calling peerings: peerings is not supported: this consul-template has no Consul cluster peering integration",
    );
}

#[test]
fn sockaddr_templates() {
    // template_test.go "helper_sockaddr".
    check(
        "{{ sockaddr \"GetAllInterfaces | include \\\"flag\\\" \\\"loopback\\\" | include \\\"type\\\" \\\"IPv4\\\" | sort \\\"address\\\" | limit 1 | attr \\\"address\\\"\"}}",
        "127.0.0.1",
    );
    check("{{ sockaddr \"GetInterfaceIP\" \"\\\"lo\\\"\" }}", "");
    check(
        "{{ sockaddr \"GetAllInterfaces | include \\\"name\\\" \\\"^lo$\\\" | include \\\"type\\\" \\\"ipv4\\\" | join \\\"name\\\" \\\",\\\"\" }}",
        "lo",
    );
    // Unknown names are refused with their name.
    let err = render("{{ sockaddr \"GetAllInterfaces | math \\\"address\\\" \\\"+1\\\"\" }}")
        .unwrap_err();
    assert!(
        err.contains("the sockaddr function \"math\" is not supported"),
        "{err}"
    );
    let err = render("{{ sockaddr \"GetBogus\" }}").unwrap_err();
    assert!(
        err.contains("unable to parse template")
            && err.contains("function \"GetBogus\" not defined"),
        "{err}"
    );
    let err = render("{{ sockaddr \"GetAllInterfaces | include \\\"bogus\\\" \\\"x\\\"\" }}")
        .unwrap_err();
    assert!(err.contains("invalid include selector \"bogus\""), "{err}");
}
