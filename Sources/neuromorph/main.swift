print("neuromorph")
