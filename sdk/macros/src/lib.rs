//! `#[entry_point]`: exports a contract function as a Vellum entry point.
//!
//! ```text
//! #[vellum_sdk::entry_point]
//! pub fn execute(ctx: &mut Ctx, msg: ExecuteMsg) -> Result<Response, ContractError> { ... }
//! ```
//! The function's name must be `instantiate`, `execute` or `query`. The attribute keeps the
//! function as written (so it can be unit-tested natively) and adds, on wasm32 only, an exported
//! wrapper of type `() -> i32` that reads the JSON message, calls the function and writes its
//! JSON answer or error message, as `docs/abi.md` describes.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemFn, parse_macro_input};

/// Marks `instantiate`, `execute` or `query` as the contract's entry point of that name.
#[proc_macro_attribute]
pub fn entry_point(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[entry_point] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    let name = func.sig.ident.clone();
    let runner = match name.to_string().as_str() {
        "instantiate" | "execute" => quote!(::vellum_sdk::__private::run_mut),
        "query" => quote!(::vellum_sdk::__private::run_query),
        other => {
            return syn::Error::new_spanned(
                &func.sig.ident,
                format!("`{other}` is not an entry point: use instantiate, execute or query"),
            )
            .to_compile_error()
            .into();
        }
    };
    let export = name.to_string();
    let wrapper = format_ident!("__vellum_entry_{}", name);
    quote! {
        #func

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[unsafe(export_name = #export)]
        pub extern "C" fn #wrapper() -> i32 {
            #runner(#name)
        }
    }
    .into()
}
