#!/usr/bin/python3
"""docker-py (Debian's python3-docker) against one Engine API socket:
prints what a user of the library would look at, for test-serve.sh to
compare between dockerd and berth serve.
Usage: serve-docker-py.py unix://SOCKET IMAGE NAME_PREFIX"""
import sys

import docker


def main():
    sock, image, prefix = sys.argv[1:4]
    client = docker.DockerClient(base_url=sock, version="1.41")
    print("ping", client.ping())
    # containers.run attached: its output as bytes, the container removed.
    out = client.containers.run(image, ["sh", "-c", "echo from-run"], remove=True,
                                network_mode="none")
    print("run", out)
    # A failing command: ContainerError with its exit status.
    try:
        client.containers.run(image, ["sh", "-c", "echo bad >&2; exit 5"], remove=True,
                              network_mode="none")
    except docker.errors.ContainerError as e:
        print("run failed", e.exit_status)
    # Detached: wait, logs (whole and streamed), attributes, remove.
    c = client.containers.run(image, ["sh", "-c", "for i in 1 2 3; do echo line $i; done"],
                              detach=True, name=prefix + "-d", network_mode="none",
                              labels={"suite": "serve"}, environment={"K": "v"})
    print("wait", c.wait()["StatusCode"])
    print("logs", c.logs())
    print("stream", [chunk for chunk in c.logs(stream=True)])
    c.reload()
    print("attrs", c.status, c.attrs["State"]["ExitCode"], c.labels, c.name)
    print("listed", [x.name for x in client.containers.list(all=True, filters={"label": "suite=serve"})])
    c.remove()
    try:
        client.containers.get(prefix + "-d")
    except docker.errors.NotFound:
        print("removed")
    # exec_run in a running container: exit code and output.
    r = client.containers.run(image, ["sleep", "300"], detach=True, name=prefix + "-x",
                              network_mode="none")
    res = r.exec_run(["sh", "-c", "echo in-exec; exit 2"])
    print("exec", res.exit_code, res.output)
    r.remove(force=True)
    print("images", sorted(t for i in client.images.list(name=image) for t in i.tags))
    v = client.volumes.create(prefix + "-v")
    print("volume", v.name, v.attrs["Driver"])
    v.remove()


main()
