"""
The SockJS transports: how frames travel over each kind of HTTP response or
websocket.
"""
