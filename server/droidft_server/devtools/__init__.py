"""Development tools shipped with the server: the tiny model and the demo. The service never imports them.

They are `droidft-server` subcommands (`tiny-model`, `demo`) because they need what only the
server's distribution brings (safetensors, tokenizers, and for the demo the server itself).
"""
