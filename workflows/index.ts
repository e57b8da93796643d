// Every workflow of the management plane, one file per flow (DESIGN.md, Workflows).
export {};
