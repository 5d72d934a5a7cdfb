//! Expansions read as text: what no ui case can see, since the ui cases
//! have `eventlib` itself among their dependencies.

use quote::quote;

#[test]
fn a_renamed_crate_is_the_only_path_to_the_runtime() {
    let out = crate::event::expand(
        quote!(crate = ev, name = "t.Ping"),
        quote! {
            impl Ping {
                #[validate]
                fn check(&self) -> Result<(), ev::ValidationError> { Ok(()) }
                #[ev::handler]
                fn a(&self) {}
                #[handler]
                async fn b(&self, ctx: &ev::Context) {}
            }
        },
    )
    .to_string();
    assert!(!out.contains("eventlib"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("ev :: __private"), "{out}");
    assert_eq!(out.matches("HandlerDecl {").count(), 2, "{out}");

    let out = crate::handler::expand(
        quote!("t.*", crate = ::ev),
        quote!(
            fn w(r: &ev::Record) {}
        ),
    )
    .to_string();
    assert!(!out.contains("eventlib"), "{out}");
    assert!(out.contains(":: ev :: __private"), "{out}");
}

#[test]
fn only_our_paths_are_our_attributes() {
    let out = crate::event::expand(
        quote!(),
        quote! {
            impl Ping {
                #[handler] fn a(&self) {}
                #[eventlib::handler] fn b(&self) {}
                #[::eventlib::handler] fn c(&self) {}
                #[other::handler] fn d(&self) {}
                #[eventlib::other::handler] fn e(&self) {}
            }
        },
    )
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert_eq!(out.matches("HandlerDecl {").count(), 3, "{out}");
    assert!(out.contains("# [other :: handler] fn d"), "{out}");
    assert!(
        out.contains("# [eventlib :: other :: handler] fn e"),
        "{out}"
    );

    // With `crate = ev`, `ev::handler` is ours and so is `eventlib::handler`.
    let out = crate::event::expand(
        quote!(crate = ev),
        quote! {
            impl Ping {
                #[ev::handler] fn a(&self) {}
                #[eventlib::handler] fn b(&self) {}
                #[evx::handler] fn c(&self) {}
            }
        },
    )
    .to_string();
    assert_eq!(out.matches("HandlerDecl {").count(), 2, "{out}");
    assert!(out.contains("# [evx :: handler] fn c"), "{out}");
}
