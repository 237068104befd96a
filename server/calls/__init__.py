"""The server's side of a call: who may join, the facts a live room needs, what it stores."""
