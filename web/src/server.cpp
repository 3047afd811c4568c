// Replaced by the Beast server (web issue work in progress).
