"""PySide6 widgets of gradviz: they display and drive the core's data, never run user code themselves."""
