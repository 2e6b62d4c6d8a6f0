// Package deploy holds no code. Its tests keep casino's deployment
// definitions true offline: docker-compose.prod.yml loads with the compose
// specification's own loader, the Kubernetes base under deploy/k8s builds
// with kubectl kustomize and decodes strictly into the Kubernetes API types,
// and the Dockerfile builds the binary the way package casino expects.
package deploy
