"""Plan layer: operation value objects, the diff that builds a Plan, and its renderers."""
