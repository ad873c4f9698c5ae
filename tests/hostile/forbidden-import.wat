;; A component that imports an interface Capstan does not provide (an HTTP client): must fail to
;; link, as WrongInterface, before it ever runs.
(component
  (import "wasi:http/outgoing-handler@0.2.0" (instance $h
    (export "handle" (func (param "x" u32) (result u32))))))
