/** A minimal `Reflect` metadata polyfill, installed before `@peculiar/x509` loads (its DI container, tsyringe, demands one). */

// Why: @peculiar/x509 v2 registers its algorithm providers through tsyringe, which refuses to load unless
// `Reflect.getMetadata` exists (the `reflect-metadata` package). Portcullis uses no decorators and must not add a
// dependency, so this installs the five functions tsyringe calls, backed by a WeakMap. It never replaces an
// existing implementation.

type MetadataTarget = object;
type MetadataStore = Map<unknown, unknown>;

interface ReflectMetadataApi {
  getMetadata?: (key: unknown, target: MetadataTarget, property?: PropertyKey) => unknown;
  getOwnMetadata?: (key: unknown, target: MetadataTarget, property?: PropertyKey) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: MetadataTarget, property?: PropertyKey) => void;
  hasMetadata?: (key: unknown, target: MetadataTarget, property?: PropertyKey) => boolean;
  hasOwnMetadata?: (key: unknown, target: MetadataTarget, property?: PropertyKey) => boolean;
  metadata?: (key: unknown, value: unknown) => (target: MetadataTarget, property?: PropertyKey) => void;
}

const reflect = Reflect as unknown as ReflectMetadataApi;

if (typeof reflect.getMetadata !== 'function') {
  const stores = new WeakMap<MetadataTarget, Map<PropertyKey | undefined, MetadataStore>>();

  const ownStore = (target: MetadataTarget, property: PropertyKey | undefined, create: boolean): MetadataStore | undefined => {
    let byProperty = stores.get(target);
    if (byProperty === undefined) {
      if (!create) return undefined;
      byProperty = new Map();
      stores.set(target, byProperty);
    }
    let store = byProperty.get(property);
    if (store === undefined && create) {
      store = new Map();
      byProperty.set(property, store);
    }
    return store;
  };

  reflect.getOwnMetadata = (key, target, property) => ownStore(target, property, false)?.get(key);
  reflect.hasOwnMetadata = (key, target, property) => ownStore(target, property, false)?.has(key) ?? false;
  reflect.defineMetadata = (key, value, target, property) => {
    ownStore(target, property, true)!.set(key, value);
  };
  reflect.hasMetadata = (key, target, property) => {
    for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
      if (ownStore(t, property, false)?.has(key)) return true;
    }
    return false;
  };
  reflect.getMetadata = (key, target, property) => {
    for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
      const store = ownStore(t, property, false);
      if (store?.has(key)) return store.get(key);
    }
    return undefined;
  };
  reflect.metadata = (key, value) => (target, property) => reflect.defineMetadata!(key, value, target, property);
}

export {};
