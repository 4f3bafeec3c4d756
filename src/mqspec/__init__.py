"""mqspec: the fn MessageQueue contract, made exact and checkable.

The code lives in top-level folders of the repository, installed under this namespace:
``mqspec.reference`` (the model, ``reference/``), ``mqspec.conformance`` (the harness,
``conformance/``), ``mqspec.adapters`` (backends, ``adapters/``) and ``mqspec.spec`` (the clause
catalogue, ``spec/``).
"""

__version__ = "0.1.0"
