;; A core WebAssembly module, not a component: must be rejected as NotAComponent.
(module
  (memory (export "memory") 1)
  (func (export "transform") (result i32) i32.const 0))
