;; A component exporting `transform` with the wrong type: must be rejected as WrongInterface.
(component
  (core module $m
    (func (export "f") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func $transform (result u32) (canon lift (core func $i "f")))
  (export "transform" (func $transform)))
