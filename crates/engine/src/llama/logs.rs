//! llama.cpp's log output, into `tracing` at sensible levels.
//!
//! llama.cpp prints a hundred INFO lines per model load; they go to `debug` (target
//! `llama.cpp`), warnings and errors to `warn`/`error`. Lines are assembled from llama.cpp's
//! continuation fragments before they are logged.

use std::{
    ffi::{c_char, c_void, CStr},
    sync::Mutex,
};

static PARTIAL: Mutex<(i32, String)> = Mutex::new((0, String::new()));

/// Routes llama.cpp and ggml logs through [`log_line`].
pub(super) fn install() {
    // SAFETY: the callback is a plain function that lives for the whole program and ignores
    // its user data.
    unsafe {
        llama_cpp_sys_2::llama_log_set(Some(callback), std::ptr::null_mut());
        llama_cpp_sys_2::ggml_log_set(Some(callback), std::ptr::null_mut());
    }
}

unsafe extern "C" fn callback(level: llama_cpp_sys_2::ggml_log_level, text: *const c_char, _user: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let mut partial = PARTIAL.lock().unwrap_or_else(|p| p.into_inner());
    if level != llama_cpp_sys_2::GGML_LOG_LEVEL_CONT {
        partial.0 = level as i32;
    }
    partial.1.push_str(&text);
    if partial.1.ends_with('\n') {
        let line = std::mem::take(&mut partial.1);
        log_line(partial.0, line.trim_end());
    }
}

fn log_line(level: i32, line: &str) {
    if line.is_empty() {
        return;
    }
    match level as llama_cpp_sys_2::ggml_log_level {
        llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR => tracing::error!(target: "llama.cpp", "{line}"),
        llama_cpp_sys_2::GGML_LOG_LEVEL_WARN => tracing::warn!(target: "llama.cpp", "{line}"),
        llama_cpp_sys_2::GGML_LOG_LEVEL_INFO => tracing::debug!(target: "llama.cpp", "{line}"),
        _ => tracing::trace!(target: "llama.cpp", "{line}"),
    }
}
