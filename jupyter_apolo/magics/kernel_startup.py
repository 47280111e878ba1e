# Run by Python as $PYTHONSTARTUP in kernels of a Jupyter server whose jupyter-apolo extension
# enables kernel magics (see jupyter_apolo/magics/autoload.py). Leaves no names behind.
def _jupyter_apolo_startup() -> None:
    from jupyter_apolo.magics.autoload import kernel_startup

    kernel_startup()


_jupyter_apolo_startup()
del _jupyter_apolo_startup
