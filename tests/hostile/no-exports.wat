;; A valid component that exports nothing: must be rejected as WrongInterface.
(component)
