# Shared by the e2e and benchmark scripts: start Debian's docker-registry on a free loopback
# port with our own config, and push N small OCI images (distinct configs, one shared layer)
# to one repository with curl. Source it; it defines start_registry and push_tags.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry WORKDIR: sets REG (host:port) and REG_PID.
start_registry() {
  local work=$1
  REG="127.0.0.1:$(free_port)"
  cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $REG
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 1 100); do curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "docker-registry did not start" >&2
  return 1
}

_push_blob() { # repo file
  local d loc sep
  d="sha256:$(sha256sum "$2" | cut -d' ' -f1)"
  loc=$(curl -fsS -D - -o /dev/null -X POST "http://$REG/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case "$loc" in http*) ;; *) loc="http://$REG$loc" ;; esac
  sep='?'; case "$loc" in *\?*) sep='&' ;; esac
  # -T streams the file (--data-binary would read it whole into memory first).
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$2" "$loc${sep}digest=$d"
  echo "$d"
}

# push_tags WORKDIR REPO COUNT: tags t1..tCOUNT.
push_tags() {
  local work=$1 repo=$2 count=$3 layer layer_size cfg i
  printf 'shared layer' >"$work/layer"
  layer=$(_push_blob "$repo" "$work/layer")
  layer_size=$(stat -c %s "$work/layer")
  for i in $(seq 1 "$count"); do
    printf '{"architecture":"amd64","os":"linux","config":{"Env":["N=%s"]},"rootfs":{"type":"layers","diff_ids":[]}}' "$i" >"$work/config"
    cfg=$(_push_blob "$repo" "$work/config")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
      "$cfg" "$(stat -c %s "$work/config")" "$layer" "$layer_size" >"$work/manifest"
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/manifest" "http://$REG/v2/$repo/manifests/t$i"
  done
}
