//! The raw host functions, declared from the ABI table in `vellum_abi` so that the SDK and the
//! runtime cannot disagree. On targets other than wasm32 (a contract crate compiled natively for
//! `cargo test`), the same functions exist but panic: host functions only exist inside the runtime.

macro_rules! __declare {
    ($( $(#[$doc:meta])* fn $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; fuel($base:expr, $per_byte:expr); )*) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "vellum")]
        unsafe extern "C" {
            $( $(#[$doc])* pub(crate) fn $name($($arg: $ty),*) $(-> $ret)?; )*
        }

        $(
            #[cfg(not(target_arch = "wasm32"))]
            #[allow(unused_variables, clippy::missing_safety_doc)]
            pub(crate) unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                native_stub(stringify!($name))
            }
        )*
    };
}

vellum_abi::for_each_host_function!(__declare);

#[cfg(not(target_arch = "wasm32"))]
fn native_stub(name: &str) -> ! {
    panic!("vellum host function `{name}` exists only inside the Vellum runtime (wasm32)")
}
