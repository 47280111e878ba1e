# Run by Python as $PYTHONSTARTUP in kernels of a Jupyter server whose jupyter-apolo extension
# enables kernel magics (see jupyter_apolo/kernel/__init__.py). Leaves no names behind.
def _jupyter_apolo_startup() -> None:
    from jupyter_apolo.kernel import kernel_startup

    kernel_startup()


_jupyter_apolo_startup()
del _jupyter_apolo_startup
