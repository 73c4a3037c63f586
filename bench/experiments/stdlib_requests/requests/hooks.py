def default_hooks():
    return {"response": []}
