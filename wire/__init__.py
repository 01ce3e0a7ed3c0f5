"""Wire formats shared by the appliance (edge/) and the hub (hub/).

Everything that crosses the MQTT link is defined here once: the topic tree
(`wire.topics`) and the payloads (`wire.messages`). Both sides import these
models; neither builds a topic string or a payload dict by hand.
"""
