"""Reference: the smallest functions-framework function there is."""


def handle(request):
    return "ok"
