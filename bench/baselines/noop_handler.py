"""No work at all: the interpreter and the cold-start runner alone (the cost under every row)."""


def handler(event, context):
    return "{}"
