"""Operator actions shared by the CLI and the web console.

Each function does one thing a person asks for (enrol, forget, promote a stranger, correct
attendance...) through the existing layers, and records it in the secure log together with who
asked (``actor``: ``cli:<user>``, ``web:<account>`` or ``api:<token name>``). The CLI prints the
result; the console renders it.
"""
